from config.errors import ApplicationError, NotFound


class InvoiceNotFound(NotFound):
    code = "invoice_not_found"


class InvoiceDateInFuture(ApplicationError):
    """An invoice cannot be issued with a date that has not come yet (nor for periods that have not ended)."""

    code = "invoice_date_in_future"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class DocumentOutOfOrder(ApplicationError):
    """Numbers run in chronological order: a document dated before the last one issued in its sequence is refused."""

    code = "document_out_of_order"
    status = 409


class DocumentStateError(ApplicationError):
    """The document is not in a state that allows the action (issue a draft, void an issued or sent document)."""

    code = "document_state"
    status = 409


class SellerRequisitesMissing(ApplicationError):
    """The seller lacks what the document must print (a bank account for an invoice for payment, a director)."""

    code = "seller_requisites_missing"


class VoidReasonRequired(ApplicationError):
    code = "void_reason_required"


class CorrectionInvalid(ApplicationError):
    code = "correction_invalid"
