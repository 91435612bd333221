"""The batch record envelope: one line of a CDP batch file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

BatchSchema = Literal["guest", "order"]
BatchMode = Literal["insert", "create", "upsert", "merge", "delete", "gdpr_delete"]


class BatchRecord(BaseModel):
    """`{"ref", "schema", "mode", "value"}`; `ref` is the record's own UUID, echoed in the error log."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    ref: str
    record_schema: BatchSchema
    mode: BatchMode
    value: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"ref": self.ref, "schema": self.record_schema, "mode": self.mode, "value": self.value}

    @classmethod
    def from_wire(cls, line: dict[str, Any]) -> BatchRecord:
        return cls(ref=line["ref"], record_schema=line["schema"], mode=line["mode"], value=line["value"])
