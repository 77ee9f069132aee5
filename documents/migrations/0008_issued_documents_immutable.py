"""PostgreSQL keeps issued documents as they were issued, so even raw SQL cannot rewrite one:

- a document that is issued, sent or void cannot be deleted, and an UPDATE may change only its status (issued →
  sent → void, issued → void; never back), the sending and voiding fields and the rendered PDF (pdf, pdf_sha256);
- the lines of such a document can be neither updated nor deleted, and lines join it only in the database
  transaction that wrote the document (the issuing one), as entries join a ledger transaction.
A draft may change freely until it is issued.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION documents_document_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mutable CONSTANT text[] := ARRAY['status', 'sent_at', 'voided_at', 'voided_by', 'void_reason', 'pdf',
                                     'pdf_sha256'];
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'issued documents are immutable: DELETE of document % refused', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - mutable) IS DISTINCT FROM (to_jsonb(OLD) - mutable) THEN
        RAISE EXCEPTION 'issued documents are immutable: only the status, sending, voiding and PDF of document % '
                        'may change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'issued' AND NEW.status IN ('sent', 'void')) OR (OLD.status = 'sent' AND NEW.status = 'void')
    ) THEN
        RAISE EXCEPTION 'document %: % → % is not allowed', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status = 'void' AND (NEW.voided_at, NEW.voided_by, NEW.void_reason)
                               IS DISTINCT FROM (OLD.voided_at, OLD.voided_by, OLD.void_reason) THEN
        RAISE EXCEPTION 'document %: a void is final', OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER documents_document_immutable
    BEFORE UPDATE OR DELETE ON documents_document
    FOR EACH ROW EXECUTE FUNCTION documents_document_immutable();

CREATE FUNCTION documents_documentline_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    doc_status text;
    doc_xmin xid;
BEGIN
    SELECT d.status, d.xmin INTO doc_status, doc_xmin FROM documents_document d
     WHERE d.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.document_id ELSE NEW.document_id END;
    IF doc_status IS NULL OR doc_status = 'draft'
       OR (TG_OP = 'INSERT' AND billing_ledger_written_here(doc_xmin)) THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'issued documents are immutable: % of a line of document % refused', TG_OP,
        CASE WHEN TG_OP = 'DELETE' THEN OLD.document_id ELSE NEW.document_id END
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER documents_documentline_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON documents_documentline
    FOR EACH ROW EXECUTE FUNCTION documents_documentline_immutable();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS documents_documentline_immutable ON documents_documentline;
DROP FUNCTION IF EXISTS documents_documentline_immutable();
DROP TRIGGER IF EXISTS documents_document_immutable ON documents_document;
DROP FUNCTION IF EXISTS documents_document_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0007_counter_last_date"),
        ("billing", "0021_cheaper_ledger_guards"),  # billing_ledger_written_here
    ]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
