# Stubs for in-toto-attestation 0.9 (generated protobuf code and thin wrappers, no type information):
# the messages and fields packseal uses, as the .proto files define them.
from typing import Any

from in_toto_attestation.v1 import resource_descriptor_pb2, statement_pb2

STATEMENT_TYPE_URI: str

class Statement:
    pb: statement_pb2.Statement
    def __init__(
        self, subjects: list[resource_descriptor_pb2.ResourceDescriptor], predicate_type: str, predicate: dict[str, Any]
    ) -> None: ...
    @staticmethod
    def copy_from_pb(proto: statement_pb2.Statement) -> Statement: ...
    def validate(self) -> None: ...
