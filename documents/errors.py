from config.errors import ApplicationError, NotFound


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"


class InvoiceDateInFuture(ApplicationError):
    """An invoice cannot be issued with a date that has not come yet (nor for periods that have not ended)."""

    code = "invoice_date_in_future"
