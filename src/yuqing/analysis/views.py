"""Routes (placeholder until filled in)."""

from fastapi import APIRouter

router = APIRouter()
