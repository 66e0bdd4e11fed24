"""The DPO's desk: an HTTP API (``/api/v1``, OpenAPI at ``/api/openapi.json``) and a web UI (``/``)
over the lineage queries, reports and findings, served by ``pdtrail desk``.

    app = create_app(settings, open_query_backend(settings))

Tokens carry roles (``dpo``, ``auditor``, ``read_only``) and the identity recorded as the actor of
the meta-audit event that every lookup emits.
"""

from pdtrail.desk._app import create_app
from pdtrail.desk._auth import Permission, Principal, TokenStore, new_token, token_digest
from pdtrail.desk._service import Desk
from pdtrail.desk.exceptions import DeskError

__all__ = ["Desk", "DeskError", "Permission", "Principal", "TokenStore", "create_app", "new_token", "token_digest"]
