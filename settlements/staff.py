"""What each staff group may do with the ledger (merged with the other apps' by core.staff).
The ledger itself is read-only for everyone; finance keeps the calendar and reconciles."""

STAFF_PERMISSIONS: dict[str, list[str]] = {
    # "Where is my money?": the transactions and payouts a merchant asks about.
    "support": [
        "settlements.view_transaction",
        "settlements.view_payout",
        "settlements.view_payoutevent",
        "settlements.view_calendarday",
        # Whether the acquirer is reachable, and what it sent that was refused.
        "settlements.view_acquirer",
        "settlements.view_acquirerfeed",
        "settlements.view_acquirererror",
        "settlements.view_webhookevent",
    ],
    "risk": [
        "settlements.view_transaction",
        "settlements.view_payout",
        "settlements.view_payoutevent",
    ],
    "finance": [
        "settlements.view_transaction",
        "settlements.view_payout",
        "settlements.view_payoutevent",
        "settlements.view_calendaryear",
        "settlements.view_calendarday",
        "settlements.add_calendarday",
        "settlements.change_calendarday",
        "settlements.delete_calendarday",
        "settlements.view_reconciliationrun",
        "settlements.view_reconciliationrunevent",
        "settlements.add_reconciliationrun",
        "settlements.view_discrepancy",
        "settlements.change_discrepancy",
        # Finance configures the acquirers (address, key, secret, poll intervals).
        "settlements.view_acquirer",
        "settlements.add_acquirer",
        "settlements.change_acquirer",
        "settlements.test_acquirer",
        "settlements.view_acquirerfeed",
        "settlements.view_acquirererror",
        "settlements.view_webhookevent",
    ],
}
