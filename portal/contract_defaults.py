"""The wording of the first merchant acquiring contract, used by the migration that creates
the template and by anything that needs a template where the database has none (a flushed
test database, a demo). Staff edit the template in the admin; each edit is a new version."""

DEFAULT_CODE = "merchant-acquiring"
DEFAULT_TITLE = "特约商户收单服务协议"

DEFAULT_BODY = """## 一、协议双方
甲方（收单机构）：{{ acquirer }}。
乙方（特约商户）：{{ merchant_name }}，商户编号 {{ mid }}，经营者 {{ legal_name }}。

## 二、服务内容
甲方为乙方提供银行卡及扫码支付的收单服务，包括受理终端、交易处理、资金结算和差错处理。

## 三、费率与结算
乙方按本协议首页所列费率向甲方支付手续费，手续费在结算时直接扣除。

甲方按首页所列结算周期，将交易款项扣除手续费后划入乙方的结算账户；遇法定节假日顺延至下一个工作日。资金未按时到账的，乙方可在商户门户查看原因和处理进度。

## 四、乙方的义务
乙方应保证所提交的身份证件、营业执照和结算账户信息真实、有效；信息发生变更的，应在变更后五个工作日内通知甲方。

乙方不得利用受理终端从事套现、洗钱、赌博等违法违规活动，不得将终端转借他人或移至登记的经营地址以外使用。

## 五、风险管理
甲方发现可疑交易或收到风险提示时，可以暂缓结算、调单核实或暂停服务，并及时通知乙方原因和处理进度。

## 六、终端管理
乙方应妥善保管受理终端，终端遗失、被盗或损坏的，应立即报告甲方。

## 七、个人信息保护
甲方依照《中华人民共和国个人信息保护法》处理乙方提供的个人信息，仅用于履行本协议和法定义务，采取加密等安全措施保护；除法律法规另有规定外，未经乙方同意不向第三方提供。

## 八、协议期限与终止
本协议自乙方电子签署之日起生效，有效期一年；期满双方均无异议的，自动续期一年。任何一方可以提前三十日书面通知对方终止本协议。

## 九、争议解决
因本协议产生的争议，双方应友好协商解决；协商不成的，提交甲方所在地人民法院诉讼解决。

## 十、电子签署
乙方通过甲方商户门户输入本人姓名、手写签名并输入一次性验证码签署本协议，与手写签署具有同等法律效力。签署记录和签署证书附于本协议之后。客服电话：{{ support_phone }}。
"""


def default_template_ensure(model) -> object:
    """The active template, creating version 1 of the default one if none is active.
    ``model`` is ContractTemplate (real, or historical in a migration)."""
    active = model.objects.filter(is_active=True).order_by("-version").first()
    if active is not None:
        return active
    template, _created = model.objects.get_or_create(
        code=DEFAULT_CODE,
        version=1,
        defaults={"title": DEFAULT_TITLE, "body": DEFAULT_BODY, "is_active": True},
    )
    return template
