"""The rules' word lists: the cues, titles, heads and stop words the passes test tokens against.

Matching forms (alef/hamza unified, ة -> ه, ى -> ي, Latin lower-case), as the tokens of :class:`.document._Doc` are;
the given names and common words come from ``data/names`` (:mod:`services.entities.names`).  The gazetteer classifies
each token once by these lists (:meth:`.gazetteer.Gazetteer.positions`) and the tagger's features read them too
(:mod:`services.entities.features`).
"""

from __future__ import annotations

from typing import Final

from services.entities.names import default_lexicon
from services.normalizer.textforms import matching_form


def _words(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _forms(words: str) -> frozenset[str]:
    return frozenset(matching_form(w) for w in words.split())


# Words before a place name that make an ambiguous alias ("حجة", "صور") a place.
_PLACE_CUES: Final = _forms(
    "مدينة مدينه مدن محافظة ولاية بلدة قرية منطقة مخيم إقليم مديرية ميناء مطار ضواحي أحياء حي "
    "مدينتي محافظتي بلدتي منطقتي قضاء ريف عاصمة العاصمة city province town village camp region "
    "district port")

_MINISTRIES: Final[dict[str, str]] = {
    matching_form(k): v for k, v in {
        "الخارجية": "Foreign Affairs", "الدفاع": "Defence", "الداخلية": "Interior", "الصحة": "Health",
        "المالية": "Finance", "العدل": "Justice", "الاقتصاد": "Economy", "التجارة": "Trade",
        "الطاقة": "Energy", "النفط": "Oil", "التعليم": "Education", "التربية": "Education",
        "الإعلام": "Information", "الزراعة": "Agriculture", "النقل": "Transport", "الثقافة": "Culture",
        "السياحة": "Tourism", "الخزانة": "Treasury", "الاتصالات": "Communications", "البيئة": "Environment",
        "الأوقاف": "Religious Endowments", "العمل": "Labour", "الإسكان": "Housing", "الكهرباء": "Electricity",
        "التخطيط": "Planning", "الري": "Irrigation", "الشباب": "Youth", "الرياضة": "Sports",
    }.items()}

# Ministries named without "وزارة": "الخارجية الروسية".
_BARE_MINISTRIES: Final = _forms("الخارجية الدفاع الداخلية")

# Words that open a person's title or role (matching forms, without proclitics).
_TITLE_HEADS: Final = _forms(
    "الرئيس رئيس الرئيسة رئيسة وزير وزيرة الوزير الوزيرة المتحدث المتحدثة الناطق الناطقة متحدث "
    "قائد القائد زعيم الزعيم الملك الملكة الأمير الأميرة الشيخ الشيخة السفير السفيرة سفير المبعوث المبعوثة "
    "مبعوث المستشار المستشارة مستشار المدير المديرة مدير مديرة الأمين أمين نائب نائبة وكيل محافظ المحافظ "
    "حاكم الحاكم العقيد العميد اللواء الفريق المشير الجنرال الرائد النقيب المقدم الدكتور الدكتورة "
    "البروفيسور السيد السيدة المنسق المنسقة منسق منسقة المفوض المفوضة مفوض المقرر المقررة الممثل الممثلة "
    "ممثل ممثلة مساعد مساعدة المدرب مدرب اللاعب لاعب المهاجم الكاتب الكاتبة الروائي الشاعر الأديب "
    "المخرج الفنان الفنانة الإمام البابا الجنرال القيادي القيادية عضو النائب "
    "المراسل مراسل الباحث الخبير المحلل العاهل الأمينة القاضي النجم نجم الحارس ولي مديرها رئيسها "
    "قائدها زعيمها نظيره نظيرها نظيرته نظيرتها المفوضية")
# Words that may follow a title head before the name: "رئيس الوزراء", "المتحدث باسم", ...
_TITLE_LINKS: Final = _forms(
    "باسم رسمي الرسمي وزارة حكومة مجلس هيئة منظمة بعثة جهاز جيش قوات حركة حزب جماعة لجنة الأمم "
    "اللجنة المجلس الهيئة الحكومة الوزراء خارجية دفاع داخلية العام العامة الأعلى الأول السابق السابقة "
    "الحالي المكلف المؤقت الانتقالي التنفيذي الخاص الخاصة لشؤون شؤون الشؤون للشؤون الأممي الأممية "
    "لدى في السامي السامية الدائم الدائمة الإقليمي المركزي المركزية بالأمم المتحدة العهد الفرقة "
    "الإنسانية الأركان هيئة رئاسة مكتب الدولة الدولي الدولية التابع التابعة ورئيس ووزير منتخب المنتخب "
    "نادي النادي الفريق فريق للأمم لبعثة الاتحاد الجمهورية السيادة الانتقالي حقوق أركان حرب إدارة "
    "شركة قسم دائرة مكتب مركز معهد جامعة كلية مؤسسة صندوق بنك اتحاد رابطة نقابة غرفة شرطة سلطة قطاع "
    "فرع مجموعة شبكة وكالة عمليات بأعمال القائم لشركة لوزارة لمجلس لهيئة")

# Tokens that can never be part of an Arabic name (function words, frequent verbs, time words).
_STOP: Final = _forms(
    "في من إلى الى عن مع أن إن ان لا ما لم لن قد كان كانت يكون هو هي هم هذا هذه ذلك تلك الذي التي "
    "الذين بعد قبل خلال حول عند لدى منذ حتى أو او ثم بين ضد دون غير كل بعض أي إذ إذا اذا لكن بل بينما "
    "حيث كما أيضا وقد فقد وقال قال قالت وقالت يقول تقول أكد أكدت وأكد وأكدت أعلن أعلنت وأعلن وأعلنت "
    "أضاف أضافت وأضاف وأضافت أشار أشارت وأشار وأشارت دعا دعت ودعا ودعت اعتبر اعتبرت صرح صرحت كشف "
    "كشفت أوضح أوضحت شدد شددت حذر حذرت طالب طالبت وصف وصفت اتهم اتهمت يعتزم تعتزم يزور تزور زار زارت "
    "التقى التقت بحث بحثت استقبل استقبلت وقع وقعت أجرى أجرت أفاد أفادت ذكر ذكرت نقل نقلت قوله قولها "
    "أنه أنها إنه إنها بأن يوم اليوم أمس غدا الاثنين الثلاثاء الأربعاء الخميس الجمعة السبت الأحد "
    "مساء صباح الماضي المقبل الحالي عاما سنة شهر يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر "
    "أكتوبر نوفمبر ديسمبر كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين عبر وفق وفقا بشأن لـ "
    "تصريحات تصريح بيان مؤتمر صحفي لقاء اتصال هاتفي رسالة كلمة خطاب مقابلة تغريدة منشور يجب يمكن "
    "سيكون ليس وهو وهي وذلك الذي بأنه بأنها أنهم إنهم جميع عدد نحو أكثر أقل وكذلك كذلك بسبب إثر "
    "عقب لأن رغم إلا فيما مما عما وفي ومن وعلى وإلى وعن ومع ثم الجيش القوات قوات السلطات الحكومة "
    "ستة خمسة ثلاثة أربعة سبعة ثمانية تسعة عشرة اثنين اثنان واحد أهداف هدف مقتل إصابة "
    "صلى عليه إلى عقد يبحث تبحث يؤكد تؤكد يدعو تدعو يتوقع تتوقع يرى ترى يجري تجري أمام خلف فوق تحت وسط")

# Title heads that are also common nouns (الفريق "the team"): a given name must follow directly.
_AMBIGUOUS_TITLES: Final = _forms("الفريق النجم نجم الحارس")

# Particles inside a name: "تميم بن حمد آل ثاني", "عبد الحميد", "أبو عبيدة", "ولد الغزواني".
_BASM: Final = _forms("باسم")
_NAME_JOINERS: Final = _forms("بن ابن بنت آل ولد")
_NAME_SUFFIXES: Final = _forms("الدين الله الإسلام الرحمن")
_NAME_PREFIXES: Final = _forms("عبد أبو ابو أبي عبد ال")

_EN_TITLES: Final = _words(
    "president minister secretary spokesman spokeswoman spokesperson chancellor king queen "
    "prince sheikh emir general gen col colonel ambassador envoy governor mayor senator rep dr "
    "mr mrs ms commander chief director coach manager leader premier lieutenant lt maj major "
    "captain capt adviser advisor representative official commissioner chairman chairwoman "
    "chair ceo striker midfielder defender goalkeeper forward winger judge prosecutor pope "
    "cardinal sgt sergeant sec-gen secretary-general executive deputy vice acting interim senior former")
_EN_PARTICLES: Final = _words(
    "al el bin ibn de da van von der di la le ben abu abdel abd ould")
_EN_STOP: Final = _words(
    "the a an of in on at to for and or but with said says told on monday tuesday wednesday "
    "thursday friday saturday sunday january february march april may june july august "
    "september october november december")

_EN_FUNCTION_WORDS: Final = _EN_PARTICLES | _EN_STOP  # not the content of a Latin alias (see _latin_ok)

# Tokens (or their stems) that can open a context-based mention.
_TRIGGERS: Final = _TITLE_HEADS | _EN_TITLES | frozenset(_MINISTRIES) | _forms("وزارة")

# Function words that differ from a name only by ى/ي ("على" vs the name "علي").
_STOP_DISPLAY: Final = _words(
    "على وعلى فعلى لدى حتى متى")

_NAMES: Final = default_lexicon()
# Reporting verbs (any person, with or without و/ف): "وقال ...", "أكدت ...".
_REPORT_AR: Final = _forms(
    "قال قالت أكد أكدت أعلن أعلنت أضاف أضافت صرح صرحت أوضح أوضحت أشار أشارت ذكر ذكرت نفى نفت كتب "
    "كتبت أفاد أفادت شدد شددت حذر حذرت اعتبر اعتبرت تابع تابعت رأى رأت يقول تقول")
_REPORT_EN: Final = _words("said says told added wrote warned stressed noted according")
# Words that end an Arabic name after a reporting verb: "قال فلان فلان إن/في/خلال ...".
_AFTER_NAME_AR: Final = _forms("إن أن في خلال عبر أمام لـ من عن على")
# Capitalised English words that are not names (sentence-initial words, collective sources).
_EN_NOT_NAMES: Final = _words(
    "the this that these those it he she they we i his her their our its a an in on at as but and or if "
    "when while after before during since until there here officials police witnesses residents sources "
    "authorities analysts experts doctors medics rescuers troops soldiers militants rebels protesters "
    "observers diplomats reporters journalists lawmakers ministers activists critics supporters people "
    "one two three some many most all several state statement report reports monday tuesday wednesday "
    "thursday friday saturday sunday today yesterday tonight earlier later meanwhile however also still "
    "north south east west northern southern eastern western central new old") | _EN_STOP | _EN_TITLES
# Capitalised nouns that end the name of a place, event or thing named after a person.
_EN_THING_NOUNS: Final = _words(
    "line fire river lake mountain mountains island islands bay sea valley square road avenue park center "
    "centre hall tower day cup trophy prize award institute doctrine plan act law accords agreement treaty "
    "canal gate hotel mosque church cathedral school college museum library stadium arena festival")
_GIVEN_AR_ANY: Final = _NAMES.given_ar | _NAMES.given_ar_common
_PERSON_TRIGGERS: Final = _REPORT_AR | _REPORT_EN | _NAMES.given_ar | _NAMES.given_en

_NAME_END_MARKS: Final = frozenset("،,:\"«“")

# A place directly after one of these is part of a facility's name ("محطة دنيبرو الكهرومائية",
# "سد مأرب", "Zaporizhzhia Power Plant"), not a mention of the place.
_FACILITY_HEADS: Final = _forms(
    "محطة المحطة سد مصفاة مصنع ملعب استاد ستاد جسر شارع فندق مسجد كنيسة مجمع حقل قاعدة مستشفى جامعة "
    "كلية نادي بنك مصرف شركة مدرسة سجن منشأة مفاعل")
_EN_FACILITY_TAILS: Final = _words(
    "power plant station dam airport stadium street bridge refinery university hospital club bank "
    "reactor prison field")
# Facilities that are organisations: "جامعة طرابلس" is the University of Tripoli.
_ORG_FACILITIES: Final[dict[str, str]] = {
    matching_form(k): v for k, v in {
        "جامعة": "University of {}", "مستشفى": "{} Hospital", "بنك": "Bank of {}", "مصرف": "Bank of {}",
        "نادي": "{} Club",
    }.items()}

# Head nouns that open an organisation's name ("الهيئة العليا المستقلة للانتخابات").
_ORG_HEADS: Final = _forms(
    "هيئة الهيئة مجلس المجلس خدمة جهاز الجهاز لجنة اللجنة قوات القوات حركة الحركة حزب الحزب جبهة الجبهة "
    "جيش الجيش منظمة المنظمة وكالة الوكالة بعثة البعثة مؤسسة المؤسسة مفوضية المفوضية محكمة المحكمة اتحاد "
    "الاتحاد رابطة الرابطة نقابة النقابة تحالف التحالف قيادة القيادة حرس الحرس ديوان الديوان صندوق الصندوق "
    "معهد المعهد مرصد المرصد شبكة الشبكة سلطة السلطة مركز المركز")
# Military units named by a number or an ordinal: "اللواء 444 قتال", "الفرقة السادسة مشاة".
_UNIT_HEADS: Final = _forms("اللواء لواء الفرقة فرقة الكتيبة كتيبة")
_ORDINALS: Final = _forms(
    "الأول الأولى الثاني الثانية الثالث الثالثة الرابع الرابعة الخامس الخامسة السادس السادسة السابع "
    "السابعة الثامن الثامنة التاسع التاسعة العاشر العاشرة")
_UNIT_KINDS: Final = _forms("مشاة قتال مدرع مدرعة مدفعية مظلي مظليين مشاة المشاة المدرعة")
_QUOTES: Final = frozenset("\"'«»“”‘’")
# English nouns that end an organisation's name ("State Emergency Service", "Defence Ministry").
_EN_ORG_NOUNS: Final = _words(
    "ministry service committee council agency authority party forces army front movement commission "
    "office bank organization organisation union brigade brigades corps court university institute "
    "foundation fund association guard command coalition federation assembly parliament department")
_ORG_TRIGGERS: Final = _ORG_HEADS | _UNIT_HEADS | _EN_ORG_NOUNS
# A person's name right after these names something else: "جائزة نجيب محفوظ", "مدينة الملك عبد الله".
_PERSON_NAME_OF: Final = _forms(
    "جائزة مدينة ميدان ساحة حي مؤسسة مركز قاعة مكتبة مطار مرفأ مهرجان اتفاقية معاهدة مبادرة خطة عملية كأس بطولة "
    "دورة مسابقة سورة") | _ORG_HEADS
