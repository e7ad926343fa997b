"""Civis Python3 and container scripts, and SQL leftovers, as `@asset` modules.

The original code is kept as it was, indented into the asset function, with three careful
edits: `print` goes to the run logger (a local `print`), `os.environ["X_PASSWORD"]` and
`["X_USERNAME"]` become `secret("X")` / `secret("X", "username")` (the project's secret
lookup), and `os.environ["PARAM"]` for a Civis param becomes `params["PARAM"]` (asset config:
`context.options` over the Civis defaults).
"""

from __future__ import annotations

import io
import json
import re
import textwrap
import tokenize
from dataclasses import dataclass

from assetgraph.ext.civis._objects import CivisObject

__all__ = ["AssetModule", "python_asset", "container_asset", "stub_asset"]


@dataclass(frozen=True)
class AssetModule:
    key: str
    text: str
    notes: tuple[str, ...]


_ENV_READ = (
    r"os\.environ\[\s*(?P<q>['\"])(?P<name>[A-Za-z0-9_]+)(?P=q)\s*\]"
    r"|os\.environ\.get\(\s*(?P<q2>['\"])(?P<name2>[A-Za-z0-9_]+)(?P=q2)\s*(?:,[^()]*)?\)"
    r"|os\.getenv\(\s*(?P<q3>['\"])(?P<name3>[A-Za-z0-9_]+)(?P=q3)\s*(?:,[^()]*)?\)"
)


def _rewire(source: str, params: dict[str, str]) -> tuple[str, list[str]]:
    notes: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group("name") or m.group("name2") or m.group("name3")
        for suffix, part in (("_PASSWORD", "password"), ("_USERNAME", "username")):
            if name.endswith(suffix):
                base = name[: -len(suffix)]
                return f'secret("{base}")' if part == "password" else f'secret("{base}", "username")'
        if name in params:
            return f'params["{name}"]'
        return m.group(0)

    out = re.sub(_ENV_READ, sub, source)
    if _code_mentions(out, "_PASSWORD"):
        notes.append("a *_PASSWORD credential is read in a way the import cannot rewrite:"
                     " use secret(\"NAME\") (assetgraph.ext.civis.runtime)")
    return out, notes


def _code_mentions(source: str, text: str) -> bool:
    """`text` in the code's names or strings (comments do not count)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return text in source
    return any(text in t.string for t in tokens if t.type in (tokenize.NAME, tokenize.STRING))


def _params(obj: CivisObject) -> dict[str, str]:
    out: dict[str, str] = {}
    arguments = obj.body.get("arguments") or {}
    for p in obj.body.get("params") or []:
        if not isinstance(p, dict) or not p.get("name"):
            continue
        if str(p.get("type", "")).startswith("credential"):
            continue  # credentials are secrets, never config values
        value = next((v for v in (arguments.get(p["name"]), p.get("value"), p.get("default")) if v is not None), None)
        out[str(p["name"])] = "" if value is None else str(value)
    return out


def _docstring(obj: CivisObject, extra: str) -> str:
    who = f", author {obj.author}" if obj.author else ""
    when = f", last updated {obj.updated_at}" if obj.updated_at else ""
    head = f'Civis {obj.label}{who}{when}.'
    return '"""' + head.replace('"""', "'''") + "\n\nMoved by `assetgraph civis import`. " + extra + '\n"""'


def _header(obj: CivisObject, extra: str, imports: str) -> str:
    return f"{_docstring(obj, extra)}\n\nfrom __future__ import annotations\n\n{imports}\n"


def _decorator(key: str, obj: CivisObject, deps: tuple[str, ...]) -> str:
    args = [repr(key), 'group="civis"', 'tags=["civis"]']
    if deps:
        args.append(f"deps={list(deps)!r}")
    args.append(f"description={('Civis ' + obj.label)!r}")
    return "@asset(" + ", ".join(args) + ")"


def python_asset(obj: CivisObject, key: str, func: str, deps: tuple[str, ...] = ()) -> AssetModule:
    params = _params(obj)
    source, notes = _rewire(str(obj.body.get("source") or ""), params)
    body = textwrap.indent(source.rstrip() + "\n", "    ") if source.strip() else "    pass\n"
    uses_secret = "secret(" in source
    imports = "import os  # noqa: F401 (the original script may use it)\n\n"
    imports += "from assetgraph import AssetContext, asset\n"
    if uses_secret:
        imports += "from assetgraph.ext.civis.runtime import secret\n"
    text = _header(obj, "The code below is the original script; print goes to the run logger.", imports)
    text += f"\n# Civis params (asset config: `context.options` overrides them)\nPARAMS = {json.dumps(params, indent=4, sort_keys=True)}\n"
    text += f"\n\n{_decorator(key, obj, deps)}\ndef {func}(context: AssetContext) -> None:\n"
    text += "    params = {**PARAMS, **{k: str(v) for k, v in context.options.items()}}\n"
    text += "    __name__ = \"__main__\"  # Civis ran the script as a program\n\n"
    text += "    def print(*args: object, sep: str = \" \", **_: object) -> None:\n"
    text += "        context.log.info(sep.join(str(a) for a in args))\n\n"
    text += "    # ---- the Civis script ----\n" + body
    try:
        compile(text, f"flows/civis/{func}.py", "exec")
    except SyntaxError as exc:
        return stub_asset(obj, key, func, str(obj.body.get("source") or ""),
                          f"the script does not compile inside an asset function (line {exc.lineno}: {exc.msg})",
                          deps)
    if params:
        notes.append(f"Civis params became asset config: {', '.join(sorted(params))}")
    return AssetModule(key, text, tuple(notes))


def stub_asset(obj: CivisObject, key: str, func: str, original: str, reason: str,
               deps: tuple[str, ...] = ()) -> AssetModule:
    """An asset that fails with a clear message until someone ports the kept code."""
    message = f"Civis {obj.label} is not ported yet: {reason}"
    text = _header(obj, "Needs attention: " + reason + ". The original code is kept below.",
                   "from assetgraph import AssetContext, asset\n")
    text += f"\nORIGINAL = {json.dumps(original)}\n"
    text += f"\n\n{_decorator(key, obj, deps)}\ndef {func}(context: AssetContext) -> None:\n"
    text += f"    raise NotImplementedError({message!r})\n"
    return AssetModule(key, text, (reason,))


def container_asset(obj: CivisObject, key: str, func: str, deps: tuple[str, ...] = ()) -> AssetModule:
    image = str(obj.body.get("dockerImageName") or "")
    tag = str(obj.body.get("dockerImageTag") or "latest")
    command = str(obj.body.get("dockerCommand") or "")
    repo = str(obj.body.get("repoHttpUri") or "")
    reason = (f"container script: run image {image}:{tag} with command {command!r}"
              + (f" (code from {repo})" if repo else "")
              + " as a deployment on a Docker/ECS/Kubernetes work pool")
    module = stub_asset(obj, key, func, command, reason, deps)
    text = module.text.replace("\nORIGINAL =", f"\nIMAGE = {f'{image}:{tag}'!r}\nORIGINAL =", 1)
    return AssetModule(key, text, module.notes)
