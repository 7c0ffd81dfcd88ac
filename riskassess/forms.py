from django import forms
from django.utils import timezone

from homevisits.postcode import normalise_postcode

from . import services
from .models import ControlMeasure, Hazard, Household, RiskAssessment
from .services import ASSESSMENT_FIELDS

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class HouseholdForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = ["team", "display_name", "address", "postcode", "case_reference", "access_notes"]
        widgets = {
            "address": forms.Textarea(attrs={"rows": 3}),
            "access_notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        teams = list(teams)
        self.fields["team"].queryset = self.fields["team"].queryset.filter(
            pk__in=[t.pk for t in teams]
        )
        if self.instance.pk:
            del self.fields["team"]
            teams = [self.instance.team]
        elif len(teams) == 1:
            self.fields["team"].initial = teams[0]
        labels = {team.policy.case_reference_label for team in teams}
        if labels == {""}:
            del self.fields["case_reference"]  # paper records: no system reference to keep
        else:
            self.fields["case_reference"].label = " / ".join(sorted(lbl for lbl in labels if lbl))

    def clean_postcode(self):
        return normalise_postcode(self.cleaned_data["postcode"])


class SignificantRiskField(forms.TypedChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            choices=[("yes", "Yes: significant risk"), ("no", "No significant risk")],
            coerce=lambda value: value == "yes",
            empty_value=None,
            required=False,
            widget=forms.RadioSelect,
            label="Is there a significant risk to staff?",
            help_text="Record the answer either way: “no significant risk” is a finding too.",
            **kwargs,
        )

    def prepare_value(self, value):
        return {True: "yes", False: "no"}.get(value, value)


class RiskAssessmentForm(forms.ModelForm):
    significant_risk = SignificantRiskField()
    control_measures = forms.ModelMultipleChoiceField(
        queryset=ControlMeasure.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Control measures from the catalogue",
    )

    class Meta:
        model = RiskAssessment
        fields = [*ASSESSMENT_FIELDS, "control_measures"]
        widgets = {
            "review_by": DATE_INPUT,
            "sources_notes": forms.Textarea(attrs={"rows": 2}),
            "other_control_measures": forms.Textarea(attrs={"rows": 3}),
            "extra_measures_notes": forms.Textarea(attrs={"rows": 2}),
            "worker_views": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "review_by": "Review by",
            "sources_notes": "Notes on the sources",
            "other_control_measures": "Other control measures",
            "extra_measures_notes": "Notes on the extra measures",
        }

    def clean_review_by(self):
        review_by = self.cleaned_data["review_by"]
        services.validate_review_date(review_by, today=timezone.localdate())
        return review_by


class HazardForm(forms.ModelForm):
    class Meta:
        model = Hazard
        fields = ["category", "description", "source", "learned_on"]
        widgets = {"learned_on": DATE_INPUT}

    def clean_learned_on(self):
        learned_on = self.cleaned_data["learned_on"]
        if learned_on > timezone.localdate():
            raise forms.ValidationError("The date learned cannot be in the future.")
        return learned_on


HazardFormSet = forms.formset_factory(
    HazardForm, extra=1, can_delete=True, max_num=30, validate_max=True
)


class DecisionForm(forms.Form):
    SIGN_OFF = "sign_off"
    RETURN = "return"
    decision = forms.ChoiceField(
        choices=[(SIGN_OFF, "Sign off"), (RETURN, "Return for changes")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when returning: say what needs to change.",
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == self.RETURN and not data.get("comment", "").strip():
            self.add_error("comment", "Say what needs to change before returning it.")
        return data
