"""Rating data: the Ratings table, readers for the official formats, datasets, splits."""
