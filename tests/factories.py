import factory
from django.contrib.auth.models import Group

from portal.models import Merchant, User

PASSWORD = "correct-horse-battery-9"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    mobile = factory.Sequence(lambda n: f"139{n:08d}")
    username = factory.SelfAttribute("mobile")
    email = factory.Sequence(lambda n: f"customer{n}@example.cn")
    password = factory.django.Password(PASSWORD)


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def group(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    user = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"测试商户 {n}")
    mid = factory.Sequence(lambda n: f"898310054110{n:03d}")
