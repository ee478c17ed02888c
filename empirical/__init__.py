"""Data, corruptions, models and training: experiments that record what happened."""
