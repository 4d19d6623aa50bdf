"""Writes names.csv: a small, SYNTHETIC surname -> country table for
scripts/examples/names_classifier.lua. Each country's surnames are made by
gluing a start and an ending drawn from spelling patterns typical of that
language (not a list of real people); the output is the same on every run.

Run: python3 scripts/examples/data/gen_names.py  (any Python 3, no packages)
"""
import os
import random

PER_COUNTRY = 60

# country -> (starts, endings); a surname is start + ending
PATTERNS = {
    "Arabic": (["Al", "Ab", "Bad", "Had", "Kha", "Moha", "Nas", "Sa", "Ham", "Ras", "Qas", "Ya", "Za", "Far", "Sha"],
               ["dad", "ir", "lil", "mmad", "had", "sour", "id", "rah", "ssan", "im", "if", "ib", "aar", "wi"]),
    "Chinese": (["Zh", "Ch", "X", "Q", "W", "L", "H", "Y", "J", "Sh", "G", "D"],
                ["ang", "ao", "iu", "eng", "ong", "uan", "ian", "ing", "ui", "un", "ou", "ai"]),
    "Czech": (["Nov", "Dvor", "Svob", "Proch", "Kuch", "Vesel", "Hork", "Nem", "Pokorn", "Marek", "Ruzick", "Benes",
               "Kral", "Cerm"],
              ["ak", "acek", "oda", "azka", "ova", "y", "ec", "ecek", "icka", "ik", "ar", "ensky"]),
    "Dutch": (["Jan", "Bakk", "Vis", "Smit", "Meij", "Dijk", "Hoek", "Bos", "Kuip", "Wout", "Veen", "Hui", "Bro"],
              ["sen", "er", "ers", "stra", "huis", "kamp", "broek", "veld", "man", "ink", "hof", "meer"]),
    "English": (["Ash", "Brad", "Chat", "Fair", "Hart", "Lang", "Mort", "Rad", "Stan", "Whit", "Wood", "Black",
                 "Thorn", "Pem"],
                ["ford", "ley", "ton", "field", "wood", "worth", "bury", "ham", "well", "by", "wick", "ridge"]),
    "French": (["Beau", "Du", "Le", "La", "Mont", "Ro", "Gi", "Char", "Bon", "Fon", "Mar", "Lef", "Bou", "Cha"],
               ["champ", "pont", "blanc", "rard", "eau", "chet", "vre", "ier", "ette", "ault", "ot", "teau", "bert"]),
    "German": (["Schm", "Schw", "Sch", "Wag", "Zimm", "Kr", "Hoff", "Neu", "Stein", "Lang", "Fisch", "Ber", "Kell",
                "Wolf"],
               ["idt", "arz", "ner", "ermann", "ause", "mann", "berg", "bauer", "hardt", "lich", "inger", "stadt"]),
    "Greek": (["Pap", "Nik", "Kon", "Dim", "Geor", "Vasil", "Christ", "Ioann", "Karam", "Mich", "Andr", "Stav",
               "Theo", "Alex"],
              ["adopoulos", "olaidis", "stantinou", "itriou", "giou", "eiou", "akis", "opoulos", "anlis", "idis",
               "atos", "ou"]),
    "Irish": (["O'", "Mc", "Mac", "O'", "Mc"],
              ["Brien", "Connor", "Sullivan", "Carthy", "Mahony", "Donnell", "Neill", "Kenna", "Gowan", "Grath",
               "Dowd", "Keefe", "Shea", "Reilly", "Guire", "Loughlin", "Bride", "Hugh", "Leary", "Grady", "Cormack",
               "Namara", "Dermott", "Hale"]),
    "Italian": (["Ross", "Bianc", "Ferr", "Espos", "Roman", "Colomb", "Ricc", "Marin", "Gall", "Cont", "Brun",
                 "Manc", "Lomb", "Fabr"],
                ["i", "o", "ini", "etti", "ello", "ucci", "ano", "ari", "one", "ardi", "ino", "ozzi"]),
    "Japanese": (["Ya", "Ta", "Ka", "Su", "Wa", "Na", "Ma", "Mo", "Hi", "Ko", "Sa", "Fu", "Ku", "Ishi", "Nishi"],
                 ["mamoto", "naka", "wasaki", "zuki", "tanabe", "kamura", "tsumoto", "rita", "rota", "bayashi",
                  "saki", "jita", "moto", "kawa", "yama", "da"]),
    "Korean": (["K", "P", "Ch", "J", "Y", "H", "S", "B", "Gw", "Hw", "R"],
               ["im", "ark", "oi", "ung", "oon", "an", "eo", "ong", "ae", "ang", "yu", "ok"]),
    "Polish": (["Kowal", "Nowak", "Wisni", "Wojcie", "Kamin", "Lewandow", "Zielin", "Szymanow", "Wozni", "Dabrow",
                "Kozlow", "Jankow", "Mazur", "Krawczy"],
               ["ski", "ska", "ewski", "owski", "czyk", "iak", "ek", "inski", "ak"]),
    "Portuguese": (["Silv", "Sant", "Ferreir", "Pereir", "Olive", "Cost", "Rodrig", "Martin", "Sous", "Fernand",
                    "Gonçalv", "Gom", "Lop", "Marqu"],
                   ["a", "os", "eira", "ues", "ão", "inho", "ares", "es", "ho", "elo"]),
    "Russian": (["Ivan", "Smirn", "Kuzn", "Popov", "Sokol", "Lebed", "Kozl", "Novik", "Moroz", "Petr", "Volk",
                 "Solov", "Vasil", "Zaits"],
                ["ov", "ova", "etsov", "ich", "in", "ovsky", "enko", "yev", "akov", "ishin", "ushkin"]),
    "Scottish": (["Mac", "Mc", "Camp", "Stew", "Ross", "Fras", "Grah", "Murr", "Dougl", "Kerr", "Rob", "Craw",
                  "Fergu", "Suth"],
                 ["bell", "art", "er", "am", "ay", "as", "ertson", "ford", "son", "erland", "ie", "intosh", "kenzie"]),
    "Spanish": (["Garc", "Rodr", "Fernánd", "Lóp", "Martín", "Sánch", "Pér", "Gonzál", "Gom", "Ruiz", "Díaz",
                 "Morel", "Jimén", "Álvar"],
                ["ía", "íguez", "ez", "ado", "ero", "eda", "illa", "uez", "ón", "ales", "edo", "ana"]),
    "Vietnamese": (["Ng", "Tr", "Ph", "Th", "H", "V", "D", "B", "L", "Qu", "Kh", "Gi"],
                   ["uyen", "an", "am", "ieu", "ung", "uong", "oang", "inh", "uy", "anh", "ai", "o"]),
}


def main():
    rng = random.Random(1234)
    seen = {}
    rows = []
    for country in sorted(PATTERNS):
        starts, ends = PATTERNS[country]
        combos = sorted({(s + e) for s in starts for e in ends})
        rng.shuffle(combos)
        picked = []
        for name in combos:
            if name in seen:
                continue
            seen[name] = country
            picked.append(name)
            if len(picked) == PER_COUNTRY:
                break
        rows += [(n, country) for n in picked]
    rng.shuffle(rows)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "names.csv")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("name,country\n")
        for n, c in rows:
            f.write("%s,%s\n" % (n, c))
    print("wrote %s: %d names, %d countries" % (out, len(rows), len(PATTERNS)))


if __name__ == "__main__":
    main()
