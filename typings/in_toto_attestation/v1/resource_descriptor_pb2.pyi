# Stubs for in-toto-attestation 0.9 (generated protobuf code and thin wrappers, no type information):
# the messages and fields packseal uses, as the .proto files define them.
from collections.abc import Mapping

from google.protobuf.internal.containers import ScalarMap
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct

class ResourceDescriptor(Message):
    name: str
    uri: str
    content: bytes
    download_location: str
    media_type: str
    @property
    def digest(self) -> ScalarMap[str, str]: ...
    @property
    def annotations(self) -> Struct: ...
    def __init__(
        self,
        *,
        name: str = ...,
        uri: str = ...,
        digest: Mapping[str, str] | None = ...,
        content: bytes = ...,
        download_location: str = ...,
        media_type: str = ...,
    ) -> None: ...
