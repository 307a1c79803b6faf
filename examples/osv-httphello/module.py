from osv.modules import api

default = api.run("/httphello")
