"""The starting control-measure catalogue, in our own words, from the examples in the guidance."""

CONTROL_MEASURES = [
    "Case-record system checked for this family's history before the visit",
    "Other agencies who know the family asked about risks",
    "Visit entered in the calendar and on the tracking board before setting off",
    "Phone-in arrangement agreed with the designated person",
    "Agreed time after which the office calls if there is no check-in",
    "Lone-working training completed",
    "Park facing the way out, especially in a dead end",
    "Park with the driver's door on the side you will walk back from",
    "Park in a well-lit spot",
    "ID badge worn on a clip or lanyard that breaks away if grabbed",
    "Sit near the door; nobody between you and the exit",
    "Take in only the equipment and files you need, so that you can leave quickly",
    "If something feels wrong on arrival, do not go in; leave and call the office",
    "Dogs and other animals shut in another room for the visit",
    "Mobile phone carried, fully charged, with signal checked beforehand",
    "Nothing left in the car that shows your employer or home address",
    "Go upstairs only behind the family, or leave that check for a joint visit",
]


def ensure_catalogue(control_measure_model) -> None:
    """Add any missing catalogue entries. Takes the model so that migrations can pass theirs."""
    for position, text in enumerate(CONTROL_MEASURES, start=1):
        control_measure_model.objects.get_or_create(text=text, defaults={"position": position})
