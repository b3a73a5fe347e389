"""Getting samples in and out of the studio: file readers, import with validation, export."""
