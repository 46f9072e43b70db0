"""The routing simulator (``illbroker simulate``): a generated year of requests replayed
through the real rota (``broker.domain.rota``) and state machine (``broker.domain.states``)
on a virtual clock, once per routing policy, so that a consortium can choose the order
of its rota from evidence.

Pure and fast: no Redis, no sleeping, one seeded ``random.Random`` per purpose.

- ``scenario``: the knobs, the generated consortium, lenders' behaviour and requests;
- ``policies``: the routing policies, each an order of the real rota's criteria;
- ``engine``: the discrete-event loop (a heap of timed events);
- ``metrics``: fill rate, turnaround, cost, load per lender;
- ``report``: the table, the JSON and the SVG chart.
"""
