"""Azure VM sizes a compute records, and the CPU and memory a sandbox on it is limited to.

The studio runs on whatever machine it has; a size names how much of it one node's code may use,
as the VM of that size would have. A size not listed here is recorded and sets no limit.
"""

from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class VMSize:
    name: str
    cores: int
    memory_gib: float

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)


SIZES = {
    size.name.lower(): size
    for size in (
        VMSize("Standard_DS1_v2", 1, 3.5),
        VMSize("Standard_DS2_v2", 2, 7),
        VMSize("Standard_DS3_v2", 4, 14),
        VMSize("Standard_DS4_v2", 8, 28),
        VMSize("Standard_DS5_v2", 16, 56),
        VMSize("Standard_DS11_v2", 2, 14),
        VMSize("Standard_DS12_v2", 4, 28),
        VMSize("Standard_D2_v3", 2, 8),
        VMSize("Standard_D4_v3", 4, 16),
        VMSize("Standard_D8_v3", 8, 32),
        VMSize("Standard_D2s_v3", 2, 8),
        VMSize("Standard_D4s_v3", 4, 16),
        VMSize("Standard_D8s_v3", 8, 32),
        VMSize("Standard_D16s_v3", 16, 64),
        VMSize("Standard_D2as_v4", 2, 8),
        VMSize("Standard_D4as_v4", 4, 16),
        VMSize("Standard_E4s_v3", 4, 32),
        VMSize("Standard_E8s_v3", 8, 64),
        VMSize("Standard_F2s_v2", 2, 4),
        VMSize("Standard_F4s_v2", 4, 8),
        VMSize("Standard_F8s_v2", 8, 16),
        VMSize("Standard_NC6", 6, 56),
        VMSize("Standard_NC6s_v3", 6, 112),
        VMSize("Standard_NC4as_T4_v3", 4, 28),
    )
}


def size_named(name: str) -> VMSize | None:
    return SIZES.get((name or "").lower())
