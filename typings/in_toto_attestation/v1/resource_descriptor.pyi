# Stubs for in-toto-attestation 0.9 (generated protobuf code and thin wrappers, no type information):
# the messages and fields packseal uses, as the .proto files define them.
from typing import Any

from in_toto_attestation.v1 import resource_descriptor_pb2

class ResourceDescriptor:
    pb: resource_descriptor_pb2.ResourceDescriptor
    def __init__(
        self,
        name: str = "",
        uri: str = "",
        digest: dict[str, str] | None = None,
        content: bytes = b"",
        download_location: str = "",
        media_type: str = "",
        annotations: dict[str, Any] | None = None,
    ) -> None: ...
    @staticmethod
    def copy_from_pb(proto: resource_descriptor_pb2.ResourceDescriptor) -> ResourceDescriptor: ...
    def validate(self) -> None: ...
