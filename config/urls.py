from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.health import healthz

admin.site.site_header = _("Billing administration")
admin.site.site_title = _("Billing")
admin.site.index_title = _("Accounting")

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin's language switch
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "api/v1/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"),
        name="api-redoc",
    ),
    path("payments/", include("billing.payment_urls")),
    path("portal/", include("portal.urls")),
    path("", RedirectView.as_view(pattern_name="portal:dashboard", permanent=False)),
    path("api/v1/", include("billing.api.urls")),
    path("api/v1/", include("plans.api.urls")),
    path("api/v1/", include("documents.api.urls")),
]

handler400 = "config.api.problems.handler400"
handler404 = "config.api.problems.handler404"
handler500 = "config.api.problems.handler500"
