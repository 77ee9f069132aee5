"""Bundles sold through their backing plan: bundle_publish (the plan in the product "bundles" and its
price versions mirrored from the bundle's), subscribing with `bundle_code`, and the unchanged engine
(billing run, proration, cancel, pause) billing exactly the package price to revenue:bundles.

Customers are in Europe/Moscow (UTC+3, no DST). Every amount is computed by hand next to it.
"""
