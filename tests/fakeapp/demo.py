def seed_demo(*, merchant) -> list[str]:
    return [f"  fake demo for {merchant.mid}"]
