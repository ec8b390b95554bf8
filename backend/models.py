"""Imports every model so that `db.metadata` (and Alembic) knows every table."""

import mall.models  # noqa: F401, E402
from backend.activity.models import Activity, BindToken, Consent, UploadBatch  # noqa: F401, E402
from backend.applications.models import (  # noqa: F401
    Application,
    ApplicationEvent,
    ExpertOpinion,
    Objection,
)
from backend.audit.models import AuditRecord  # noqa: F401
from backend.auth.models import OperatorClient, RefreshToken, User  # noqa: F401
from backend.certificates.models import CertificateCounter, SigningKey  # noqa: F401
from backend.idempotency import IdempotencyKey  # noqa: F401
from backend.ledger.models import Account, JournalEntry, Posting  # noqa: F401
from backend.points.models import PointsRule  # noqa: F401
from backend.reconciliation.models import ReconciliationReport  # noqa: F401
from backend.reductions.models import (  # noqa: F401
    Beneficiary,
    Issuance,
    SerialBlock,
    SerialCounter,
    Transfer,
    Use,
)
from backend.registry.models import (  # noqa: F401
    AssetClaim,
    ConversionRule,
    Methodology,
    Organization,
    Project,
    Scenario,
)
from backend.residents.models import Notification  # noqa: F401
from backend.sanctions.models import Sanction  # noqa: F401
from backend.web.models import WebSession  # noqa: F401
from backend.workdays.models import CalendarYear  # noqa: F401
from jobs.outbox import OutboxMessage  # noqa: F401
