"""PostgreSQL keeps issued invoices as they were issued, so even raw SQL cannot rewrite one:

- an invoice row cannot be deleted, and an UPDATE may change nothing but its status (paid, void);
- invoice lines cannot be updated or deleted.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION documents_invoice_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (to_jsonb(NEW) - 'status') IS DISTINCT FROM (to_jsonb(OLD) - 'status') THEN
        RAISE EXCEPTION 'issued invoices are immutable: % on % refused (only the status may change)',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER documents_invoice_immutable
    BEFORE UPDATE OR DELETE ON documents_invoice
    FOR EACH ROW EXECUTE FUNCTION documents_invoice_immutable();

CREATE FUNCTION documents_invoiceline_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'issued invoices are immutable: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER documents_invoiceline_immutable
    BEFORE UPDATE OR DELETE ON documents_invoiceline
    FOR EACH ROW EXECUTE FUNCTION documents_invoiceline_immutable();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS documents_invoiceline_immutable ON documents_invoiceline;
DROP FUNCTION IF EXISTS documents_invoiceline_immutable();
DROP TRIGGER IF EXISTS documents_invoice_immutable ON documents_invoice;
DROP FUNCTION IF EXISTS documents_invoice_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_invoices_and_counters")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
