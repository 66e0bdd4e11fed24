"""pdtrail: a personal-data audit trail.

The packages are the architecture:

- :mod:`pdtrail.producers` — the SDK a service imports to emit processing events.
- :mod:`pdtrail.schemas` — the Avro contract and the typed event models.
- :mod:`pdtrail.consumers` — Kafka → ClickHouse ingest with a dead-letter path.
- :mod:`pdtrail.queries` — per-subject lineage for the DPO.
- :mod:`pdtrail.infra` — the broker and the ClickHouse schema.
"""

from pdtrail.config import Settings, load_settings
from pdtrail.errors import ConfigError, PdtrailError, RetryableError

__all__ = ["ConfigError", "PdtrailError", "RetryableError", "Settings", "load_settings"]
__version__ = "0.1.0"
