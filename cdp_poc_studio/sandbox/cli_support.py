"""What the `cdp-poc-studio sandbox` command needs: building the config from flags, loading export definitions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.faults import FaultRule


def default_db_path() -> str:
    from platformdirs import user_data_dir

    return str(Path(user_data_dir("cdp-poc-studio")) / "sandbox.db")


def build_config(
    *,
    host: str,
    port: int,
    db_path: str | None,
    client_key: str | None,
    api_token: str | None,
    oauth_client_id: str | None,
    oauth_client_secret: str | None,
    snapshot: str,
    faults: Iterable[str],
    seed: int | None,
    tls: bool = False,
    admin_token: str | None = None,
) -> SandboxConfig:
    """Raises ValueError for a bad fault spec or option."""
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "client_key": client_key,
            "api_token": api_token,
            "oauth_client_id": oauth_client_id,
            "oauth_client_secret": oauth_client_secret,
        }.items()
        if v is not None
    }
    rules = []
    for spec in faults:
        try:
            rules.append(FaultRule.parse(spec))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"--fault {spec!r}: {exc}") from None
    db = db_path or default_db_path()
    # The certificate lives beside the database, or in the user data folder for a throwaway database.
    tls_dir = (Path(default_db_path()).parent if db == ":memory:" else Path(db).parent) if tls else None
    return SandboxConfig(
        host=host,
        port=port,
        db_path=db,
        tls_dir=tls_dir,
        admin_token=admin_token,
        snapshot_mode="nightly" if snapshot == "nightly" else "immediate",
        faults=rules,
        seed=seed,
        **overrides,
    )


def load_definitions(paths: Iterable[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in paths:
        data = orjson.loads(Path(path).read_bytes())
        out.extend(data if isinstance(data, list) else [data])
    return out


def run_from_cli(config: SandboxConfig, export_files: Iterable[str] = ()) -> int:
    from cdp_poc_studio.sandbox.context import Sandbox
    from cdp_poc_studio.sandbox.exports import DefinitionError
    from cdp_poc_studio.sandbox.server import serve

    definitions = load_definitions(export_files)

    def setup(sandbox: Sandbox) -> None:
        # Created, or updated when the friendlyId exists, through the same service as the admin API.
        service = sandbox.exports
        for definition in definitions:
            fid = str(definition.get("friendlyId", ""))
            try:
                if service.get_definition(fid) is None:
                    service.create_definition(definition)
                else:
                    service.update_definition(fid, definition)
            except DefinitionError as exc:
                raise SystemExit(f"error: export definition {fid!r}: {exc}") from None

    return serve(config, setup=setup)
