"""Where artifact and object bytes live: the BlobStore Protocol and its local-disk store (the
S3 store, s3.py, is imported only when chosen: boto3 is the optional extra `s3`)."""

from .blobs import (
    BlobMissingError,
    BlobStore,
    BlobStoreConfigError,
    BlobStoreFullError,
    BlobStoreUnavailableError,
    PresigningBlobStore,
)
from .local import LocalBlobStore

__all__ = [
    "BlobMissingError",
    "BlobStore",
    "BlobStoreConfigError",
    "BlobStoreFullError",
    "BlobStoreUnavailableError",
    "LocalBlobStore",
    "PresigningBlobStore",
]
