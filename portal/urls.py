from django.urls import path

from portal.views import account, auth, plans, profile, widget

app_name = "portal"

urlpatterns = [
    path("", account.dashboard_view, name="dashboard"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("login/link/", auth.link_request_view, name="link-request"),
    path("login/link/<uidb64>/<token>/", auth.link_sign_in_view, name="link-sign-in"),
    path("password/reset/", auth.password_reset_view, name="password-reset"),
    path("password/set/<uidb64>/<token>/", auth.password_set_view, name="password-set"),
    path("topup/", account.topup_view, name="topup"),
    path("topup/return/", account.topup_return_view, name="topup-return"),
    path("history/", account.history_view, name="history"),
    path("history.csv", account.history_csv_view, name="history-csv"),
    path("documents/", account.documents_view, name="documents"),
    path("documents/zip/", account.documents_zip_view, name="documents-zip"),
    path("documents/<int:document_id>/pdf/", account.document_pdf_view, name="document-pdf"),
    path("plans/", plans.plans_view, name="plans"),
    path("subscriptions/<int:subscription_id>/change/", plans.change_view, name="change"),
    path("subscriptions/<int:subscription_id>/options/add/", plans.option_add_view, name="option-add"),
    path("subscriptions/<int:subscription_id>/options/remove/", plans.option_remove_view, name="option-remove"),
    path("subscriptions/<int:subscription_id>/cancel/", plans.cancel_view, name="cancel"),
    path("subscriptions/<int:subscription_id>/coupon/", plans.coupon_view, name="coupon"),
    path("profile/", profile.profile_view, name="profile"),
    path("profile/users/", profile.user_add_view, name="user-add"),
    path("profile/users/<int:member_id>/role/", profile.user_role_view, name="user-role"),
    path("profile/users/<int:member_id>/remove/", profile.user_remove_view, name="user-remove"),
    path("widget/", widget.widget_open_view, name="widget-open"),
    path("widget/summary/", widget.widget_summary_view, name="widget-summary"),
]
