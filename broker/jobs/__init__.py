"""rq jobs: thin module-level functions that take ids, load what they need, and call
a service. ``broker.jobs.registry.JOBS`` names them for the outbox, so a transition
can ask for work by name without importing the job."""
