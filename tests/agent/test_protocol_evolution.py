"""The protocol only grows: no field or enum value is ever renumbered, retyped or reused.

`protocol_v1_fields.txt` records every field and enum value that has ever shipped. A
recorded one must still exist unchanged, or be removed properly (its number and name
`reserved`). A new one must be recorded, which makes it part of the contract from then on.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2

from assay.api.v1 import agent_pb2

RECORD = Path(__file__).with_name("protocol_v1_fields.txt")


def current_fields() -> dict[str, str]:
    """`Message.field` / `Enum.VALUE` -> "number type" for the compiled protocol."""
    proto = descriptor_pb2.FileDescriptorProto()
    agent_pb2.DESCRIPTOR.CopyToProto(proto)
    fields: dict[str, str] = {}

    def visit(messages, prefix: str) -> None:
        for message in messages:
            name = f"{prefix}{message.name}"
            for field in message.field:
                kind = field.type_name or descriptor_pb2.FieldDescriptorProto.Type.Name(field.type)
                label = "repeated " if field.label == field.LABEL_REPEATED else ""
                fields[f"{name}.{field.name}"] = f"{field.number} {label}{kind}"
            visit(message.nested_type, f"{name}.")

    visit(proto.message_type, "")
    for enum in proto.enum_type:
        for value in enum.value:
            fields[f"{enum.name}.{value.name}"] = f"{value.number} enum"
    return fields


def reserved(proto_message_name: str) -> tuple[set[int], set[str]]:
    proto = descriptor_pb2.FileDescriptorProto()
    agent_pb2.DESCRIPTOR.CopyToProto(proto)
    for message in proto.message_type:
        if message.name == proto_message_name:
            numbers = {n for r in message.reserved_range for n in range(r.start, r.end)}
            return numbers, set(message.reserved_name)
    for enum in proto.enum_type:
        if enum.name == proto_message_name:
            numbers = {n for r in enum.reserved_range for n in range(r.start, r.end + 1)}
            return numbers, set(enum.reserved_name)
    return set(), set()


def recorded_fields() -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in RECORD.read_text().splitlines()]
    return dict(line.split(" ", 1) for line in lines if line)


def test_no_shipped_field_was_renumbered_retyped_or_removed_without_reserving() -> None:
    current = current_fields()
    broken = []
    for name, shape in recorded_fields().items():
        if name in current:
            if current[name] != shape:
                broken.append(f"{name}: was {shape}, now {current[name]}")
            continue
        owner, _, field = name.rpartition(".")
        numbers, names = reserved(owner)
        if int(shape.split()[0]) not in numbers or field not in names:
            broken.append(f"{name} ({shape}) was removed without reserving its number and name")
    assert not broken, "incompatible protocol change:\n" + "\n".join(broken)


def test_every_field_is_recorded_as_part_of_the_contract() -> None:
    recorded = recorded_fields()
    new = {name: shape for name, shape in current_fields().items() if name not in recorded}
    assert not new, (
        f"record the new fields in {RECORD.name} (they cannot change after that):\n"
        + "\n".join(f"{name} {shape}" for name, shape in sorted(new.items()))
    )
