from django.apps import AppConfig


class SegmentationConfig(AppConfig):
    name = "segmentation"

    def ready(self) -> None:
        from segmentation.partner_filters import register_partner_filters

        register_partner_filters()
