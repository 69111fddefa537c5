"""Hand-built multipart/form-data bodies, so a test controls every byte of a file name.

Django's test client (and most HTTP clients) reduce a file name to its base name before sending it;
an attacker's client does not.
"""

BOUNDARY = "----studio-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def field_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode("utf-8", "surrogatepass")
        + b"\r\n"
    )


def file_part(name: str, filename: str, content: bytes, content_type: str = "application/octet-stream") -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + content
        + b"\r\n"
    )


def end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def multipart(*, fields: list[tuple[str, str]] = (), files: list[tuple[str, bytes]] = ()) -> bytes:
    """A body with the given form fields and `files` parts ((file name, content) pairs)."""
    parts = [field_part(name, value) for name, value in fields]
    parts += [file_part("files", filename, content) for filename, content in files]
    return b"".join(parts) + end()
