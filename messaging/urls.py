from django.urls import path

from messaging.views import audiences, campaigns, compliance, contacts, exports, imports, public

urlpatterns = [
    path("contacts/", contacts.contact_list, name="contact_list"),
    path("contacts/new/", contacts.contact_create, name="contact_create"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", contacts.contact_delete, name="contact_delete"),
    path(
        "contacts/<int:pk>/unsubscribe/", contacts.contact_unsubscribe, name="contact_unsubscribe"
    ),
    path(
        "contacts/<int:pk>/consent.csv",
        contacts.contact_consent_export,
        name="contact_consent_export",
    ),
    path("contacts/export.csv", exports.contact_export, name="contact_export"),
    path("contacts/import/", imports.import_start, name="import_start"),
    path("contacts/import/<uuid:pk>/", imports.import_detail, name="import_detail"),
    path("contacts/import/<uuid:pk>/progress/", imports.import_progress, name="import_progress"),
    path(
        "contacts/import/<uuid:pk>/rejected.csv",
        imports.import_rejections_csv,
        name="import_rejections_csv",
    ),
    path("contacts/add-to-list/", audiences.add_filtered_to_list, name="add_filtered_to_list"),
    path("contacts/tag/", audiences.tag_filtered, name="tag_filtered"),
    path("lists/", audiences.list_index, name="list_index"),
    path("lists/new/", audiences.list_create, name="list_create"),
    path("lists/<int:pk>/delete/", audiences.list_delete, name="list_delete"),
    path("segments/", audiences.segment_index, name="segment_index"),
    path("segments/new/", audiences.segment_edit, name="segment_create"),
    path("segments/preview/", audiences.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", audiences.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", audiences.segment_delete, name="segment_delete"),
    path("tags/", audiences.tag_index, name="tag_index"),
    path("tags/<int:pk>/delete/", audiences.tag_delete, name="tag_delete"),
    path("fields/", audiences.custom_field_index, name="custom_field_index"),
    path("fields/new/", audiences.custom_field_create, name="custom_field_create"),
    path("settings/compliance/", compliance.compliance_settings, name="compliance_settings"),
    path("join/", public.signup_page, name="signup_page"),
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/new/", campaigns.campaign_create, name="campaign_create"),
    path("campaigns/preview/", campaigns.campaign_preview, name="campaign_preview"),
    path("campaigns/test/", campaigns.campaign_test_send, name="campaign_test_send"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", campaigns.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/stats/", campaigns.campaign_stats_json, name="campaign_stats_json"),
    path(
        "campaigns/<int:pk>/runs/<int:run_pk>/stats/",
        campaigns.run_stats_json,
        name="run_stats_json",
    ),
    path("campaigns/<int:pk>/<slug:action>/", campaigns.campaign_action, name="campaign_action"),
]
