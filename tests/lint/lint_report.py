"""How every lint script reports: one line per problem, or one line saying all is accounted for."""


def report(problems: list[str], all_clear: str) -> int:
    """Prints the problems, or `all_clear` if there are none; returns the script's exit status."""
    for message in problems:
        print(message)
    if not problems:
        print(all_clear)
    return 1 if problems else 0
