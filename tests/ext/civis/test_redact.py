"""`redact`: secret values out, credential ids, names and code that reads secrets in."""

from __future__ import annotations

from assetgraph.ext.civis._redact import REDACTED, redact

SECRET = "hunter2-xyz"


def test_secret_fields_are_replaced_ids_and_names_kept():
    body = {
        "credentialId": 12, "arguments": {"DB_PASSWORD": SECRET, "REDSHIFT": 901, "DB_PASSWORD_ID": "7"},
        "source": {"password": SECRET, "passwordSet": True, "name": "mysql", "apiKey": SECRET},
        "params": [{"name": "VAN_PASSWORD", "type": "credential_custom"}],
    }
    clean, places = redact(body)
    assert SECRET not in repr(clean)
    assert clean["credentialId"] == 12 and clean["arguments"]["REDSHIFT"] == 901
    assert clean["arguments"]["DB_PASSWORD_ID"] == "7" and clean["source"]["passwordSet"] is True
    assert clean["params"] == body["params"]
    assert set(places) == {"arguments.DB_PASSWORD", "source.password", "source.apiKey"}
    assert body["source"]["password"] == SECRET  # the input is not changed


def test_secrets_inside_code_and_sql():
    texts = {
        "unload": f"UNLOAD ('select 1') TO 's3://b/x' CREDENTIALS 'aws_access_key_id=AK;aws_secret_access_key={SECRET}'",
        "copy": f"COPY t FROM 's3://b' ACCESS_KEY_ID 'AK' SECRET_ACCESS_KEY '{SECRET}' SESSION_TOKEN '{SECRET}'",
        "user": f"CREATE USER bob PASSWORD '{SECRET}';",
        "python": f'API_TOKEN = "{SECRET}"\nconfig = {{"van_api_key": \'{SECRET}\'}}\n',
        "shell": f"export VAN_API_KEY={SECRET} && python run.py",
        "url": f"postgresql://db/x?user=bob&password={SECRET}",
    }
    clean, places = redact(texts)
    assert SECRET not in repr(clean) and set(places) == set(texts)
    assert REDACTED in clean["unload"] and "aws_access_key_id=AK" in clean["unload"]


def test_code_that_reads_secrets_is_left_alone():
    code = (
        "import os\npassword = os.environ['DB_PASSWORD']\n"
        "van = VAN(api_key=os.environ[\"VAN_PASSWORD\"])\n"
        "select * from users where password_changed_at > getdate()\n"
        "conn = psycopg2.connect(host=h, password=os.environ[\"DB_PASSWORD\"])\n"
        "API_TOKEN=os.environ['X_TOKEN']\n"
        "export VAN_API_KEY=$VAN_PASSWORD && python run.py\n"
    )
    clean, places = redact({"source": code})
    assert clean["source"] == code and places == ()


def test_redacting_twice_changes_nothing_more():
    once, _ = redact({"sql": f"CREATE USER x PASSWORD '{SECRET}'"})
    twice, places = redact(once)
    assert twice == once and places == ()
