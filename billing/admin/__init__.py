"""billing's admin pages, one module per area. Importing them registers their ModelAdmins with the admin site.

The ledger can be neither added to, changed nor deleted here, not even by a superuser: postings come from
services (adjustments and reversals have their own views). Base classes shared with the other apps are in
config.admin.
"""

from billing.admin import api_keys, customers, ledger, outbox, payments, policy, sellers  # noqa: F401
