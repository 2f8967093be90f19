"""Where artifact and object bytes live: the BlobStore Protocol and its local-disk store."""

from .blobs import BlobMissingError, BlobStore, BlobStoreFullError
from .local import LocalBlobStore

__all__ = ["BlobMissingError", "BlobStore", "BlobStoreFullError", "LocalBlobStore"]
