"""Pure pricing: periods, charges, proration. No ORM, no I/O: dataclasses of Decimal/Money in, out."""
