# Stubs for in-toto-attestation 0.9 (generated protobuf code and thin wrappers, no type information):
# the messages and fields packseal uses, as the .proto files define them.
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from in_toto_attestation.v1.resource_descriptor_pb2 import ResourceDescriptor

class Statement(Message):
    type: str
    predicate_type: str
    @property
    def subject(self) -> RepeatedCompositeFieldContainer[ResourceDescriptor]: ...
    @property
    def predicate(self) -> Struct: ...
    def __init__(self) -> None: ...
