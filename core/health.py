"""What /healthz reports about background jobs (informational: the sweep recovers them)."""

from core import jobs

REPORTS = {"jobs": jobs.stuck_report}
