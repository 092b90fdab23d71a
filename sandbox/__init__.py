"""A sandbox acquirer: its own HTTP process that speaks the acquirer API of
docs/acquirer-api.md, with its own state in its own SQLite file.

It stands in for the acquirer (收单机构) in development, demos and tests: it registers merchants
and terminals, generates traffic on a clock the tests control, settles it into payouts that
sometimes go wrong the way real ones do, sends signed webhooks, and can be told to misbehave
(faults) or to push a payout into a given state (scenarios) through a loopback-only control API.

It never imports Django or the portal's packages, so the portal cannot lean on shared code to
agree with it: the two agree only through the contract.
"""
