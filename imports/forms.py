from django import forms
from django.utils.translation import gettext_lazy as _

from imports import services
from imports.models import ImportKind
from tenancy.forms import ServiceFormMixin


class ImportForm(ServiceFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("What to import"), choices=ImportKind.choices)
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8 with a header row, up to 50 MB."),  # services.MAX_FILE_BYTES
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Checked before the file is read into memory.
        if upload.size > services.MAX_FILE_BYTES:
            raise forms.ValidationError(services.too_large_message())
        return upload
