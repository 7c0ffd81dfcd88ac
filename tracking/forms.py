from django import forms

from .models import CheckInKind

EXTENSIONS = {"15": 15, "30": 30}


class CheckInForm(forms.Form):
    kind = forms.ChoiceField(choices=CheckInKind.choices)
    extend_minutes = forms.TypedChoiceField(
        choices=[(k, k) for k in EXTENSIONS], coerce=int, required=False, empty_value=None
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == CheckInKind.EXTENDED and not data.get("extend_minutes"):
            raise forms.ValidationError("Choose how much longer you need.")
        return data
