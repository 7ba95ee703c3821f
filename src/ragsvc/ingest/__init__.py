"""Use case: uploads -> pages -> chunks -> vectors -> committed documents."""
