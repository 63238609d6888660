"""The server's evidence signing key, so anyone can verify a downloaded bundle offline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from assay.api.auth import ports, require
from assay.api.models import SigningKeyOut
from assay.evidence.signing import fingerprint
from assay.records import Scope
from assay.wiring import Ports

router = APIRouter(prefix="/v1", tags=["evidence"])


@router.get(
    "/signing-key",
    name="get_signing_key",
    response_model=SigningKeyOut,
    dependencies=[Depends(require(Scope.ANALYSES_READ))],
)
def get_signing_key(store: Annotated[Ports, Depends(ports)]) -> SigningKeyOut:
    """Save `public_key_pem` to a file and run `assay verify DIR --public-key FILE`."""
    pem = store.signer.public_key_pem()
    return SigningKeyOut(key_id=fingerprint(pem), public_key_pem=pem)
