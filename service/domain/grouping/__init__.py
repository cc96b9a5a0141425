"""Answer groups: answers of a question that deserve the same score, graded together."""
