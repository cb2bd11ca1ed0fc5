"""An adapter that returns its input: the smallest plugin a pack can carry."""


def handle(message: str) -> str:
    return message
