"""The curated schema, shipped as package data so installed copies find it too."""

import os

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema.pbtxt")
