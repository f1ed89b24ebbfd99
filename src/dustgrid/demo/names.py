"""Chinese name parts for the demo city: people, phones, enterprises, roads and project names.

Why a word list and not a faker library: the demo must be byte-for-byte reproducible from one
``random.Random`` (no library version may change a name), and the names must read like a
Shenyang ledger to the officials who try it: road names are real streets of each district,
project names follow the way ledgers write them ("浑南区全运路住宅小区三期"). Enterprise
names are invented (no real company is named).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

# Common surnames, most frequent first; weights fall off like the real distribution.
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋"
    "蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
    "钱汤尹黎易常武乔贺赖龚文关佟"
)
_SURNAME_CUM = tuple(itertools.accumulate(1.0 / (i + 8) for i in range(len(SURNAMES))))

GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建国志文斌宇浩凯健俊帆鑫博"
    "晨阳宁欣怡婷雪琳晶颖丹玲慧佳悦思梦雨涵子轩博文嘉瑞睿泽昊天一诺铭宏振海波峰岩松林森"
    "春秋冬梅兰竹菊东北旭光立新成功德兴永福庆丰长青云飞宝山金玉"
)

PHONE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "158", "159", "166", "177", "180", "181", "182", "183", "185", "186",
    "187", "188", "189", "199",
)  # fmt: skip

CN_DIGITS = "零一二三四五六七八九十"

# Real streets and places of each district (by administrative code), for names and addresses.
ROADS: dict[str, tuple[str, ...]] = {
    "210102": (
        "中山路",
        "南京北街",
        "太原街",
        "中华路",
        "民主路",
        "三好街",
        "南五马路",
        "长白岛",
        "文化路",
        "十一纬路",
        "砂山街",
        "北二马路",
        "沈州路",
        "和平大街",
        "南湖",
        "北五经街",
        "胜利南街",
        "集贤街",
        "长白南路",
        "浑河北岸",
    ),
    "210103": (
        "青年大街",
        "北站路",
        "惠工街",
        "小西路",
        "大南街",
        "热闹路",
        "东陵路",
        "滨河路",
        "朝阳街",
        "五爱街",
        "泉园路",
        "风雨坛街",
        "市府大路",
        "北京街",
        "万柳塘路",
        "文萃路",
        "哈尔滨路",
        "团结路",
        "南塔街",
        "奉天街",
    ),
    "210104": (
        "东北大马路",
        "小河沿路",
        "大北街",
        "长安路",
        "东望街",
        "善邻路",
        "上园路",
        "劳动路",
        "东塔街",
        "新东一街",
        "津桥路",
        "联合路",
        "望花南街",
        "东北路",
        "辽沈街",
        "小什字街",
        "滂江街",
        "黎明街",
        "前进路",
        "二台子",
    ),
    "210105": (
        "黄河南大街",
        "北陵大街",
        "崇山中路",
        "昆山西路",
        "怒江街",
        "长江街",
        "华山路",
        "鸭绿江街",
        "塔湾街",
        "岐山路",
        "宁山路",
        "珠江街",
        "陵东街",
        "泰山路",
        "汾河街",
        "三台子",
        "梅江街",
        "淮河街",
        "嫩江街",
        "天山路",
    ),
    "210106": (
        "北二路",
        "兴华街",
        "建设大路",
        "云峰街",
        "肇工街",
        "卫工街",
        "沈辽路",
        "北一路",
        "重工街",
        "开发大路",
        "细河路",
        "景星街",
        "艳粉街",
        "保工街",
        "南十三路",
        "浑河十八街",
        "翟家",
        "大青中街",
        "红粉路",
        "贵和街",
    ),
    "210112": (
        "全运路",
        "浑南中路",
        "沈营路",
        "富民街",
        "创新路",
        "世纪路",
        "营盘街",
        "金卡路",
        "文溯街",
        "智慧街",
        "白塔河路",
        "南屏路",
        "浑南东路",
        "高歌路",
        "沈中大街",
        "新隆街",
        "桃仙大街",
        "五三街",
        "东陵东路",
        "天坛南街",
    ),
    "210113": (
        "蒲河路",
        "道义大街",
        "虎石台",
        "辉山大街",
        "正良路",
        "蒲昌路",
        "沈北路",
        "望湖路",
        "辉山",
        "财落",
        "蒲丰路",
        "七星大街",
        "兴工街",
        "蒲南路",
        "尹家",
        "黄家",
        "新城子",
        "清水台",
        "马刚",
        "宏业街",
    ),
    "210114": (
        "沈大路",
        "洪湖街",
        "吉力湖街",
        "太湖街",
        "丁香湖",
        "怒江北街",
        "黄海路",
        "杨士",
        "大兴",
        "造化街",
        "西江街",
        "沙岭",
        "北陵乡",
        "旺城",
        "东湖街",
        "百鸟公园",
        "鸭绿江北街",
        "洪湖北街",
        "平罗",
        "马三家",
    ),
}

# Residential estate names are built from an auspicious head and a kind of estate.
_ESTATE_HEADS = (
    "锦绣", "御景", "翡翠", "铂悦", "云境", "星河", "金域", "盛京", "和悦", "玺园", "江山",
    "未来", "春和", "璟樾", "紫云", "天元", "观澜", "书香", "悦澜", "融创", "嘉禾", "鹿鸣",
)  # fmt: skip
_ESTATE_TAILS = (
    "华府", "雅苑", "名邸", "公馆", "花园", "学府", "新城", "云庭", "嘉园", "湾", "壹号", "府",
)  # fmt: skip
_SCHOOLS = ("小学", "中学", "幼儿园", "九年一贯制学校", "实验学校")
_FACTORIES = (
    "重型机械", "第二纺织", "造纸", "化工", "冶炼", "变压器", "橡胶", "机床", "鼓风机", "啤酒",
    "电缆", "铸造", "制药", "水泥", "锅炉", "仪表", "轴承",
)  # fmt: skip
_SIDES = ("东侧", "西侧", "南侧", "北侧", "附近")
METRO_LINES = (3, 3, 6, 6, 2, 4, 5, 7, 8)  # lines under construction weigh more

# (template, weight) per kind; {d} district, {r}/{r2} roads, {e} estate, {p} phase.
_TEMPLATES: dict[str, tuple[tuple[str, float], ...]] = {
    "housing": (
        ("{d}{r}{e}{p}", 5.0),
        ("{d}{r}住宅小区{p}", 2.0),
        ("{d}{r}商业综合体项目", 1.5),
        ("{d}{r}安置房项目", 1.0),
        ("{d}{r}棚户区改造项目", 1.0),
        ("{d}{r}写字楼项目", 1.0),
        ("{d}{r}{s}新建工程", 0.7),
        ("{d}{r}产业园项目{p}", 0.5),
        ("{d}{r}医院综合楼工程", 0.3),
    ),
    "municipal": (
        ("{r}市政道路改造工程", 3.0),
        ("{r}雨污分流管网改造工程", 1.5),
        ("{r}供热管网改造工程", 1.5),
        ("{r}道路拓宽工程", 1.0),
        ("{r}综合管廊工程", 0.8),
        ("{r}燃气管网改造工程", 0.8),
        ("{r}桥梁新建工程", 0.6),
        ("{r}排水泵站工程", 0.5),
    ),
    "metro": (
        ("沈阳地铁{m}号线{r}站", 4.0),
        ("沈阳地铁{m}号线{r}站至{r2}站区间", 2.0),
        ("沈阳地铁{m}号线{r}停车场", 0.3),
    ),
    "demolition": (
        ("{d}{r}原{f}厂厂区拆除工程", 2.0),
        ("{d}{r}旧楼拆除工程", 1.5),
        ("{d}{r}棚户区拆除项目", 1.0),
    ),
    "other": (
        ("{d}{r}加油站改造工程", 1.0),
        ("{d}{r}停车场建设项目", 1.0),
        ("{d}{r}公园景观提升工程", 1.0),
        ("{d}{r}变电站工程", 0.8),
        ("{d}{r}物流仓储项目", 0.8),
        ("{d}{r}体育馆新建工程", 0.4),
    ),
}

# Enterprise names: "{place}{trade name}{business}"; all invented.
_ENTERPRISE_PLACES = ("沈阳", "辽宁", "沈阳市", "辽宁省")
_TRADE_NAMES = (
    "华晟", "恒泰", "鼎盛", "北辰", "东陵", "浑河", "天润", "宏达", "金桥", "鑫源", "广厦",
    "中兴", "辽华", "奉天", "宏宇", "恒信", "中鼎", "瑞丰", "嘉禾", "博远", "华信", "汇通",
    "中泰", "万隆", "晟泰", "长城", "东方", "兴辽", "振兴", "安达", "宇通", "德润", "恒达",
    "海川", "龙腾", "锦程", "正阳", "凯丰", "盛华", "筑邦", "建元", "泰和", "沈建", "北方",
)  # fmt: skip
ENTERPRISE_BUSINESS: dict[str, tuple[str, ...]] = {
    "builder": ("房地产开发有限公司", "置业有限公司", "实业发展有限公司", "城市开发有限公司"),
    "contractor": (
        "建设集团有限公司",
        "建筑工程有限公司",
        "建筑安装工程有限公司",
        "建工集团有限公司",
    ),
    "civil": ("市政工程有限公司", "路桥建设有限公司", "土木工程有限公司", "隧道工程有限公司"),
    "supervisor": ("工程监理有限公司", "建设工程项目管理有限公司", "工程咨询监理有限公司"),
    "provider": ("环境监测科技有限公司", "智能科技有限公司", "环保科技有限公司"),
    "inspection": ("工程技术咨询有限公司", "建设安全技术服务有限公司"),
}


def person_name(rng: random.Random) -> str:
    """A plausible Chinese personal name: a weighted surname and one or two given characters."""
    surname = rng.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0]
    n = 2 if rng.random() < 0.72 else 1
    return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(n))


def mobile_phone(rng: random.Random) -> str:
    """An 11-digit mainland mobile number with a real operator prefix (fake subscriber)."""
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def cn_number(n: int) -> str:
    """Chinese numeral for 1–99 (phases: 一期, 十二期)."""
    if n <= 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else CN_DIGITS[tens]
    return head + "十" + (CN_DIGITS[ones] if ones else "")


def _pick(rng: random.Random, options: Sequence[tuple[str, float]]) -> str:
    return rng.choices([t for t, _ in options], weights=[w for _, w in options])[0]


def project_name(
    rng: random.Random, *, kind: str, district: str, roads: Sequence[str]
) -> tuple[str, str]:
    """A ledger-style project name for a ``kind`` of site in ``district`` (full name, 浑南区).

    Returns (name, road) so the address can name the same road.
    """
    road = rng.choice(roads)
    road2 = rng.choice([r for r in roads if r != road] or [road])
    phase = rng.choice(("", "一期", "二期", "二期", "三期", "四期", "五期"))
    name = _pick(rng, _TEMPLATES[kind]).format(
        d=district,
        r=road,
        r2=road2,
        e=rng.choice(_ESTATE_HEADS) + rng.choice(_ESTATE_TAILS),
        p=phase,
        s=rng.choice(_SCHOOLS),
        m=rng.choice(METRO_LINES),
        f=rng.choice(_FACTORIES),
    )
    return name, road


def suspected_site_name(
    rng: random.Random, *, district: str, roads: Sequence[str]
) -> tuple[str, str]:
    """(name, road) for a site the City Brain spotted without a permit (no project name yet)."""
    road = rng.choice(roads)
    return f"{district}{road}{rng.choice(_SIDES)}疑似在建工地", road


def street_address(rng: random.Random, *, district: str, road: str) -> str:
    """A postal-style address in Shenyang: 沈阳市浑南区全运路118号."""
    return f"沈阳市{district}{road}{rng.randint(1, 399)}号"


def enterprise_name(rng: random.Random, business: str, taken: set[str]) -> str:
    """A unique invented enterprise name for a line of business (see ``ENTERPRISE_BUSINESS``)."""
    suffixes = ENTERPRISE_BUSINESS[business]
    for _ in range(200):
        name = rng.choice(_ENTERPRISE_PLACES) + rng.choice(_TRADE_NAMES) + rng.choice(suffixes)
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("ran out of distinct enterprise names")  # pragma: no cover


def unique(name: str, taken: set[str]) -> str:
    """Make a project name unique the way ledgers do: add a section (标段) number."""
    if name not in taken:
        taken.add(name)
        return name
    n = 2
    while f"{name}（{cn_number(n) if n < 100 else n}标段）" in taken:
        n += 1
    out = f"{name}（{cn_number(n) if n < 100 else n}标段）"
    taken.add(out)
    return out
