# The project's image, run by container work pools (docker, ecs, kubernetes; see scheduling.py
# WORK_POOLS and README "Deploy"). Built and pushed by .github/workflows/deploy.yml.
#
#   docker build -t assetgraph:dev .        (or: podman build / buildah bud)
#
# Runtime dependencies only, at the exact versions of constraints.txt; test tools are not
# installed. The flow runs as `prefect flow-run execute` in /opt/assetgraph, as a non-root user.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

# Telemetry off (dbt, Prefect, and anything honouring DO_NOT_TRACK); quiet, unbuffered Python.
ENV DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    ASSETGRAPH_HOME=/opt/assetgraph \
    PYTHONPATH=/opt/assetgraph \
    PREFECT_HOME=/home/assetgraph/.prefect \
    XDG_RUNTIME_DIR=/tmp/runtime-assetgraph

RUN groupadd --system --gid 10001 assetgraph \
 && useradd --system --uid 10001 --gid assetgraph --create-home --home-dir /home/assetgraph \
        --shell /usr/sbin/nologin assetgraph \
 && python -m venv /opt/venv

WORKDIR /opt/assetgraph
COPY . /opt/assetgraph
# The asset layer is installed (not editable) with the template's extras, pinned by
# constraints.txt. The project's own code (flows/, sync/, quality/, scheduling.py), the dbt
# project, profiles and pyproject.toml ([tool.assetgraph]) stay in /opt/assetgraph, on
# PYTHONPATH as the .pth of `make install` puts them, where deployments' pull step starts.
RUN pip install --constraint constraints.txt '.[template]' \
 && mkdir -p dbt_project/target dbt_project/logs reports \
 && chown -R assetgraph:assetgraph dbt_project/target dbt_project/logs reports

USER 10001:10001

CMD ["prefect", "flow-run", "execute"]
