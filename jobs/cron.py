"""Schedule for `rq cron jobs.cron` (started by `flask --app wsgi cron`).

rq's cron only enqueues; the sweeps are idempotent, so an extra run does no harm.
Run one cron process per deployment.
"""

from rq import cron

from jobs.sweeps import SWEEPS

for sweep in SWEEPS.values():
    cron.register(sweep, queue_name="default", interval=300, job_timeout=600)
